"""Learning core: causal features, targets, forecasters, ensemble, regimes, metrics, registry.

Depends on numpy, pandas, torch, xgboost, scikit-learn and pywavelets only: never on the
store, the application or the UI.
"""
