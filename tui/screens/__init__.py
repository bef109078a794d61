"""Screens: the dashboard, one symbol's detail, and the modals (add, confirm, help)."""
