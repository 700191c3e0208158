import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { CloudEvent, DirectoryEventV1, EventTypes } from '@carerelay/contracts';
import { EventContext } from '@carerelay/messaging';
import { DirectoryKind, DirectoryView } from './directory-view';

@Controller()
export class DirectoryViewHandler {
  constructor(private readonly view: DirectoryView) {}

  private keep(kind: DirectoryKind, event: CloudEvent<DirectoryEventV1>, context: EventContext) {
    const record = event.data.record as { id: string };
    return this.view.upsert(
      context.manager,
      kind,
      record,
      event.data.organizationId,
      event.data.occurredAt,
    );
  }

  @EventPattern(EventTypes.directoryOrganizationUpserted.type)
  onOrganization(@Payload() event: CloudEvent<DirectoryEventV1>, @Ctx() context: EventContext) {
    return this.keep('organization', event, context);
  }

  @EventPattern(EventTypes.directoryServiceUpserted.type)
  onService(@Payload() event: CloudEvent<DirectoryEventV1>, @Ctx() context: EventContext) {
    return this.keep('service', event, context);
  }

  @EventPattern(EventTypes.directoryCapacityChanged.type)
  onCapacity(@Payload() event: CloudEvent<DirectoryEventV1>, @Ctx() context: EventContext) {
    return this.keep('service', event, context);
  }

  @EventPattern(EventTypes.directoryLocationUpserted.type)
  onLocation(@Payload() event: CloudEvent<DirectoryEventV1>, @Ctx() context: EventContext) {
    return this.keep('location', event, context);
  }
}
