SELECT account, name, type
FROM dim_accounts
ORDER BY account
