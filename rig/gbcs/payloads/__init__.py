"""Typed payloads per use case; everything else stays opaque bytes."""
