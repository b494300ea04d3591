"""Model training, MLflow tracking and registry, prediction."""
