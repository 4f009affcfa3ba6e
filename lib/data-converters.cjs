// The payload and failure converters of every Firebreak process: the worker's main thread
// (activities), the workflow sandbox and the clients. Plain CommonJS on purpose: the SDK
// require()s them by path on the worker and in clients (Node 20 cannot require TypeScript),
// and webpack bundles this same file into the workflow sandbox, so no Node built-ins here.
'use strict';

const {
  ApplicationFailure,
  BinaryPayloadConverter,
  CompositePayloadConverter,
  DefaultFailureConverter,
  JsonPayloadConverter,
  UndefinedPayloadConverter,
  str,
} = require('@temporalio/common');

/** `encoding` the codec gives a payload it refused (not encrypted, or not decryptable). */
const ENCODING_REFUSED = 'binary/firebreak-refused';
/** Metadata key of the codec's reason: `plaintext`, or why decryption failed (key ids only). */
const METADATA_REFUSED_REASON = 'firebreak-refused-reason';
/** Failure type of every refusal. */
const PLAINTEXT_REFUSED = 'FirebreakPlaintextRefused';

/** Why the codec refused `payload`, or undefined when it is not a refusal marker. */
function refusedReason(payload) {
  const metadata = (payload && payload.metadata) || {};
  if (!metadata.encoding || str(metadata.encoding) !== ENCODING_REFUSED) return undefined;
  const reason = metadata[METADATA_REFUSED_REASON];
  return reason ? str(reason) : 'plaintext';
}

/** The refusal as a non-retryable failure; the reason names key ids at most, never payload contents. */
function refusal(reason) {
  const why =
    reason === 'plaintext'
      ? 'it is not encrypted'
      : `it could not be decrypted (${reason})`;
  return ApplicationFailure.create({
    type: PLAINTEXT_REFUSED,
    nonRetryable: true,
    message: `payload refused: ${why}; payload encryption is configured, so only input encrypted with this deployment's key is accepted`,
  });
}

/** Turns a refusal marker into a thrown refusal: an update whose arguments carry one is rejected. */
class RefusedPayloadConverter {
  constructor() {
    this.encodingType = ENCODING_REFUSED;
  }
  toPayload() {
    return undefined;
  }
  fromPayload(payload) {
    throw refusal(refusedReason(payload) || 'plaintext');
  }
}

const payloadConverter = new CompositePayloadConverter(
  new UndefinedPayloadConverter(),
  new BinaryPayloadConverter(),
  new JsonPayloadConverter(),
  new RefusedPayloadConverter(),
);

// Messages and stack traces move into an encoded payload, so the codec encrypts them too.
const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });

module.exports = { ENCODING_REFUSED, METADATA_REFUSED_REASON, PLAINTEXT_REFUSED, failureConverter, payloadConverter, refusal, refusedReason };
