import type { ApplicationFailure, FailureConverter, Payload, PayloadConverter } from '@temporalio/common';

export declare const ENCODING_REFUSED: 'binary/firebreak-refused';
export declare const METADATA_REFUSED_REASON: 'firebreak-refused-reason';
export declare const PLAINTEXT_REFUSED: 'FirebreakPlaintextRefused';
export declare const payloadConverter: PayloadConverter;
export declare const failureConverter: FailureConverter;
export declare function refusal(reason: string): ApplicationFailure;
export declare function refusedReason(payload: Payload | null | undefined): string | undefined;
