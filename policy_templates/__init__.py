"""Jinja templates (``*.xml.j2``) that render APIM policy XML; see orchestrator.render."""
