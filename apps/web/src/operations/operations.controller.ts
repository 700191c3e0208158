import { Controller, Get, Param, Post } from '@nestjs/common';
import type { SessionUser } from '../accounts/account.model';
import { CurrentUser, WebRoles } from '../accounts/web-auth.decorators';
import { DeliveryIdParam } from './operations.dto';
import { OperationsService } from './operations.service';

/** The coordinator's operations: parked EHR updates (with replay) and the directory's capacity. */
@WebRoles('coordinator')
@Controller('api/operations')
export class OperationsController {
  constructor(private readonly operations: OperationsService) {}

  @Get('parked')
  parked() {
    return this.operations.parked();
  }

  @Post('parked/:id/replay')
  replay(@CurrentUser() user: SessionUser, @Param() params: DeliveryIdParam) {
    return this.operations.replay(user, params.id);
  }

  @Get('directory')
  directory(@CurrentUser() user: SessionUser) {
    return this.operations.directory(user);
  }
}
