// The event queue's consumer in tests (see wrangler.toml): one log line per message, in the
// order received, then every message acknowledged.
export default {
  async queue(batch) {
    for (const message of batch.messages) {
      console.log(JSON.stringify({ log: "event_bus_received", queue: batch.queue, event: message.body }));
    }
    batch.ackAll();
  },
};
