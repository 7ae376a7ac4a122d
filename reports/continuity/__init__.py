"""Continuity of support (docs/spec/continuity.md): load.py reads the rows, engine.py computes, report.py assembles."""
