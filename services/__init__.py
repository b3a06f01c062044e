"""FoldDeck service layer: plain Python, no Dash, no Flask request state."""
