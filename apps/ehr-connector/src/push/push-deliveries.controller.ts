import {
  BadRequestException,
  Controller,
  Get,
  NotFoundException,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import { PushQueue, type DeliveryState, type PushDelivery } from './push-queue';
import { PushWorker } from './push.worker';
import { Roles } from '@carerelay/auth';

const STATES: DeliveryState[] = ['pending', 'delivered', 'superseded', 'parked'];

/**
 * What operators see of the push queue: parked deliveries (bounded failures) and a replay.
 * The platform and operators only.
 */
@Roles('platform', 'admin')
@Controller('push')
export class PushDeliveriesController {
  constructor(
    private readonly queue: PushQueue,
    private readonly worker: PushWorker,
  ) {}

  @Get('deliveries')
  list(@Query('state') state = 'parked', @Query('task') task?: string): Promise<PushDelivery[]> {
    if (task) return this.queue.ofTask(task);
    if (!STATES.includes(state as DeliveryState))
      throw new BadRequestException(`state must be one of ${STATES.join(', ')}`);
    return this.queue.list(state as DeliveryState);
  }

  @Post('deliveries/:id/replay')
  async replay(@Param('id') id: string): Promise<PushDelivery> {
    if (!/^\d{1,18}$/.test(id)) throw new BadRequestException('id must be a delivery number');
    const delivery = await this.queue.replay(id);
    if (!delivery) throw new NotFoundException(`no parked delivery ${id}`);
    this.worker.wake();
    return delivery;
  }
}
