FROM stackpilot-fixture:latest
LABEL v=1
