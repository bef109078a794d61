"""The forecaster kinds: Markov, rules, sequence nets (LSTM/GRU/Transformer), XGBoost, ensemble."""
