"""Modeling services: training and promotion, serving trained models, walk-forward backtest (README: "Models")."""
