"""Bridges to training frameworks. Each sub-package is the only place that imports its framework."""
