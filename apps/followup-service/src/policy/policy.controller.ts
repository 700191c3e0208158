import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Put,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Roles } from '@carerelay/auth';
import { checkId } from '@carerelay/http';
import { bodyValidation } from '../http/validation';
import { DEFAULT_NETWORK } from './followup-policy';
import { PolicyDto } from './policy.dto';
import { policyFromDto, policyView } from './policy.mapping';
import { MembershipConflictError, PolicyStore } from './policy.store';

/** Per-network follow-up policies: coordinators read them; the platform and operators set them. */
@Roles('platform', 'admin')
@Controller('policies')
export class PolicyController {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(PolicyStore) private readonly policies: PolicyStore,
  ) {}

  @Roles('platform', 'admin', 'coordinator')
  @Get()
  async list() {
    return (await this.policies.list(this.dataSource.manager)).map(policyView);
  }

  @Roles('platform', 'admin', 'coordinator')
  @Get(':networkId')
  async get(@Param('networkId') networkId: string) {
    const policy = await this.policies.get(
      this.dataSource.manager,
      checkId('networkId', networkId),
    );
    if (!policy) throw new NotFoundException(`no policy for network ${networkId}`);
    return policyView(policy);
  }

  /** Creates or replaces; timers already scheduled keep the deadlines they were given. */
  @Put(':networkId')
  async put(@Param('networkId') networkId: string, @Body(bodyValidation) body: PolicyDto) {
    const { policy, problems } = policyFromDto(checkId('networkId', networkId), body);
    if (problems.length > 0) throw new BadRequestException(problems);
    try {
      const stored = await this.dataSource.transaction((manager) =>
        this.policies.put(manager, policy),
      );
      return policyView(stored);
    } catch (error) {
      if (error instanceof MembershipConflictError) throw new ConflictException(error.message);
      throw error;
    }
  }

  @Delete(':networkId')
  @HttpCode(204)
  async delete(@Param('networkId') networkId: string): Promise<void> {
    if (checkId('networkId', networkId) === DEFAULT_NETWORK) {
      throw new BadRequestException(['the default network policy can be replaced, not deleted']);
    }
    if (!(await this.policies.delete(this.dataSource.manager, networkId))) {
      throw new NotFoundException(`no policy for network ${networkId}`);
    }
  }
}
