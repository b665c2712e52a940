"""The GitHub Action: the event and inputs, the approval rule, the API, the workflow commands."""
