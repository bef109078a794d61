"""Modeling services: training and promotion, serving trained models, walk-forward backtest (DESIGN §6-7)."""
