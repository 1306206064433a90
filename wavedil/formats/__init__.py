"""Readers and writers of model files made by other tools."""
