"""Every word and embed the bot shows on Discord, one module per audience, in the reader's language.

`member` is what a member reads in replies only they see, `channel` what the channel reads (the
status message and the posted video's words), `moderator` everything /videoadmin says, `errors` how
an error is told to whoever hit it; `pieces` holds what they share. Import the module you need:
`from cogs.render import member`. (The usage chart's words are in bot/usage/words.py: the chart is
drawn below the cogs, by the command line too.)
"""
