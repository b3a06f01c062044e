"""The Chemical Component Dictionary as AlphaFold 3 reads it: mmCIF blocks, the compact index, lookups."""
