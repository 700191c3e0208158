import { Body, Controller, Get, NotFoundException, Param, Patch } from '@nestjs/common';
import type { SessionUser } from '../accounts/account.model';
import { CurrentUser, WebRoles } from '../accounts/web-auth.decorators';
import { OperationsService } from './operations.service';
import { CapacityChangeDto, ServiceIdParam } from './operations.dto';

/** A CBO admin's services and their capacity: changed in the directory, which routing reads. */
@WebRoles('cbo-admin')
@Controller('api/services')
export class CapacityController {
  constructor(private readonly operations: OperationsService) {}

  @Get()
  services(@CurrentUser() user: SessionUser) {
    return this.operations.servicesOf(user, user.organizationId);
  }

  @Patch(':id/capacity')
  async change(
    @CurrentUser() user: SessionUser,
    @Param() params: ServiceIdParam,
    @Body() body: CapacityChangeDto,
  ) {
    const changed = await this.operations.changeCapacity(user, params.id, body);
    if (!changed) throw new NotFoundException('This service is not one of your organization’s');
    return changed;
  }
}
