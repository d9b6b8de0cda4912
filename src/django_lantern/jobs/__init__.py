"""Work outside a request: management commands, ``django.tasks`` runs, and the task line they share with Celery."""
