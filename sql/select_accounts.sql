SELECT account, active
FROM dim_accounts
ORDER BY account
