"""Execution of experiments: plan, shards, executors, records, aggregation, MLflow logging."""
