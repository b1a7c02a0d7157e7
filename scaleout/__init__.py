"""Scale-out path (issue 16): the event -> admin-1 x month -> panel -> XGBoost -> SHAP pipeline on Dask."""
