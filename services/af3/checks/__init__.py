"""The validator's rules, one module per family; `services.af3.validate` runs them."""
