"""The searches app: projects, searches, candidates, events and uploads; the REST API, the
Celery tasks that evaluate candidates, and the Channels consumer that streams search events.

Layering: views -> handlers -> models. ``search_engine`` never imports anything from here.
"""
