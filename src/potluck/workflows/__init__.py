"""The deployment's steps (seed, engineer, training set, train, materialize, predict)
as plain functions; the CLI and the demo are thin layers over them."""
