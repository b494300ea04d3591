"""The lakehouse deployment: customer churn from an Iceberg gold layer."""
