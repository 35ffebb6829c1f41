"""What ingress-nginx does with a request path, modelled for static checks of the Ingress.

No ingress controller runs here, so the Ingress is checked against this model of nginx
(``ngx_http_parse_complex_uri`` and regex ``location`` matching, as ingress-nginx
configures them when ``nginx.ingress.kubernetes.io/use-regex`` is on):

- the path is percent-decoded once, and a decoded ``/`` or ``.`` counts as a separator
  or dot (``%2e%2e`` is ``..``, ``%2f`` is ``/``); a decoded ``%`` is not decoded again;
- ``merge_slashes`` (on by default) folds ``//`` into ``/``;
- ``.`` segments vanish and ``..`` removes the segment before it; ``..`` above the root,
  and a NUL byte, are a 400;
- locations are ``~*`` regexes, case-insensitive, tried longest first (ingress-nginx's
  order); the first match names the Service;
- ``proxy_pass`` has no URI part, so the Service receives the request path *as sent*,
  not the normalised one. That is why every service refuses ambiguous paths itself.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes


class NginxRefuses(Exception):
    """nginx answers 400 itself."""


def nginx_normalise(raw_path: str) -> str:
    """The path nginx matches locations against, for ``raw_path`` as sent."""
    decoded = unquote_to_bytes(raw_path.split("?", 1)[0])
    if b"\x00" in decoded:
        raise NginxRefuses("NUL in the path")
    text = decoded.decode("utf-8", errors="surrogateescape")
    segments: list[str] = []
    for segment in text.split("/")[1:]:
        if segment in ("", "."):
            continue
        if segment == "..":
            if not segments:
                raise NginxRefuses("'..' above the root")
            segments.pop()
            continue
        segments.append(segment)
    trailing = "/" if text.endswith(("/", "/.", "/..")) and segments else ""
    return "/" + "/".join(segments) + trailing


def nginx_location(paths: list[dict], normalised: str) -> dict | None:
    """The first Ingress path whose regex matches ``normalised`` (``~*``, anchored)."""
    for path in paths:
        if re.match("^" + path["path"], normalised, flags=re.IGNORECASE):
            return path
    return None
