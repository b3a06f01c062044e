"""The queue's rules, each decided in one place: which jobs wait for approval (`approval`), which host
may take a job (`placement`), the submission limits (`limits`) and storage quota (`quota`), why a
queued job waits (`waiting`), and the words FoldDeck says about a job (`wording`).

The claim, the pages, the API and the command line call the same function, so what a page says is
what the claim decided. Nothing is re-exported here: import the module you mean.
"""
