SELECT account, type
FROM dim_accounts
ORDER BY account
