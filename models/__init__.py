"""Model: pure feature building, then train, evaluate (temporal backtest), explain (SHAP), register."""
