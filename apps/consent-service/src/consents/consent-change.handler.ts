import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { CloudEvent, EventTypes, FhirResourceChangedV1 } from '@carerelay/contracts';
import { EventContext } from '@carerelay/messaging';
import { ConsentLedger } from './consent.ledger';

/** FHIR changes the ledger passes over, told from the event alone: other resources than Consents. */
export const ignoredByConsentLedger = (event: CloudEvent): boolean =>
  event.type === EventTypes.fhirResourceChanged.type &&
  (event.data as FhirResourceChangedV1).resourceType !== 'Consent';

/** Consent creates, updates and deletes on fhir.changes.v1; other resource types are skipped. */
@Controller()
export class ConsentChangeHandler {
  constructor(private readonly ledger: ConsentLedger) {}

  @EventPattern(EventTypes.fhirResourceChanged.type)
  async onResourceChanged(
    @Payload() event: CloudEvent<FhirResourceChangedV1>,
    @Ctx() context: EventContext,
  ): Promise<void> {
    if (ignoredByConsentLedger(event)) return;
    await this.ledger.applyConsentChange(context.manager, event.data, event.traceparent);
  }
}
