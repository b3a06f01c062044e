"""Structure predictors beside AlphaFold 3: one input, several engines (issue 29).

An engine is a plug-in with four parts (`base.Engine`): an input writer (FoldDeck's AF3 job -> the
engine's own input), a command template per host (a Settings field, like FOLDDECK_AF3_COMMAND), an
output reader into FoldDeck's results model, and its log's stages and failures. Modules:
    base        the Engine, its input files, its samples and outputs; refusals every engine shares
    registry    the engines, `refuse` (the one "can it run this job" rule), their commands
    af3         AlphaFold 3 as an engine: its reader is `services.results`
    boltz/ chai/ protenix/ openfold3/   each engine's `inputs` (writer, refusals) and `reader`
    outputs     what the readers share: chain order, pLDDT, matrices, ranking
    logwords    each engine's stage and failure lines
    sims        stand-ins that write Boltz's and Chai-1's own output layout, for hosts without them
    compare     the engines' top models superposed on one chain: RMSD, confidences side by side
This package sits above `services.af3` and `services.results` and below the queue.
"""
