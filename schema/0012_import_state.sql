-- Imported tickets enter the flow at the state the city's file names (callcenter/ledger/city_status.py).
-- The file carries no 签收 or 首次联系 time, so a ticket that entered past one of those steps
-- (or past 办结 without a 办结时间) has that step's time unknown (时间未知): it leaves the
-- on-time rates rather than counting as late, and 超期预警 does not list it.
ALTER TABLE tickets
    ADD COLUMN sign_time_unknown    boolean NOT NULL DEFAULT false,
    ADD COLUMN contact_time_unknown boolean NOT NULL DEFAULT false,
    ADD COLUMN close_time_unknown   boolean NOT NULL DEFAULT false;
