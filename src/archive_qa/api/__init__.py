"""The HTTP service: JSON API and pages, one router per feature."""
