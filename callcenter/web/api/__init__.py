"""The JSON API for the district platform, its OpenAPI document, metrics and health."""
