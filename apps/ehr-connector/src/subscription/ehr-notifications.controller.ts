import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  HttpCode,
  Param,
  Post,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import { Public } from '@carerelay/auth';
import { EndpointDisabled, failureOf } from '../fhir/failure';
import { NotificationReceiver, type NotificationOutcome } from './notification.receiver';
import { NotifierSecretGuard } from './notifier-secret.guard';
import { NotificationRefused } from './subscription-notification';

/**
 * Where an EHR's Subscription (R4 Backport, rest-hook) sends its notifications. Not a route for
 * CareRelay's own clients (no access token: @Public to the service guard): the EHR proves itself
 * with the endpoint's subscription secret (NotifierSecretGuard), 401 otherwise.
 */
@Public()
@UseGuards(NotifierSecretGuard)
@Controller('ehr-notifications')
export class EhrNotificationsController {
  constructor(private readonly receiver: NotificationReceiver) {}

  @Post(':endpointId')
  @HttpCode(200)
  async receive(
    @Param('endpointId') endpointId: string,
    @Body() body: unknown,
  ): Promise<NotificationOutcome> {
    try {
      return await this.receiver.receive(endpointId, body);
    } catch (error) {
      if (error instanceof NotificationRefused) throw new BadRequestException(error.message);
      if (error instanceof EndpointDisabled)
        throw new ConflictException('the endpoint is disabled');
      // The EHR or CareRelay did not answer (or refused our own token): nothing was recorded as
      // applied, the EHR's retry of this notification applies it.
      throw new ServiceUnavailableException(failureOf(error));
    }
  }
}
