"""What customers send (photos of transfer receipts, voice notes, documents) kept beyond
WhatsApp's five-minute media links: fetched by the worker after the webhook has answered,
checked against WhatsApp's limits and stored in S3 or under the data dir; staff reach a
stored file through short-lived links.

- `limits`: the kinds of media kept, their size and MIME limits, object keys, backoff;
- `store`: where the bytes go (`S3Store`, `LocalStore`) behind one `Store` protocol;
- `links`: signed, expiring URLs for the local store and the `/media/{token}` route;
- `fetch`: media id → URL → bytes through the Graph client, a fresh URL if one expired;
- `job`: the worker's loop that claims pending downloads and records what happened.
"""
