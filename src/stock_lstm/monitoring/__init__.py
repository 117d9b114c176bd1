"""Monitoring of served models: realized accuracy, drift and the retrain policy.

Pure functions over DataFrames (logged forecasts, prices, features): no database, no model
code, no TensorFlow, so the daily pipeline and the API can both use them cheaply. Outside
`ml_models` on purpose: it judges any model from the outside, through its forecasts; a model is
only a forecast callable to it (shadow.py). Formulas: docs/architecture.md, "Monitoring".
"""
