"""``kubectl evently``: a kubectl plugin for Event resources (console script
``kubectl-evently``, so kubectl finds it on PATH), modelled on CloudNativePG's
``kubectl cnpg``. See docs/operator.md, "kubectl evently"."""
