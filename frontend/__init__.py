"""Browser pages: Django templates, plain ES modules and plotly.js (no build step)."""
