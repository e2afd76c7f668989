"""Plots (matplotlib, headless), each written as a PNG marked as ours."""
