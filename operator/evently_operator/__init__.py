"""The Evently Kubernetes operator (kopf): Event custom resources into the database."""
