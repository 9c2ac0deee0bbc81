"""Jinja2 templates, style sheet and UI strings (fi, sv, en) of the HTML audit report."""
