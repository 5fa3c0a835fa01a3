"""The files vitstudio ships: presets (`presets/*.toml`) and sample images with their credits (`images/`).

This folder sits beside `vitstudio/` in the source tree and installs as the package `vitstudio.resources`
(`package-dir` in pyproject.toml); read it with `importlib.resources.files("vitstudio.resources")`.
"""
