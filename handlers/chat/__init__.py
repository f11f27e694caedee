"""The chat's core, packaged with every Lambda function.

``rules`` is pure (no I/O); ``store`` owns every DynamoDB call; ``fanout`` owns every
``post_to_connection``; ``config`` is the only place the environment is read;
``app`` turns a Lambda event into a call of the rules and back into a reply.
"""
