"""Helpers outside the ORM: sample CV files (tests and demo)."""
