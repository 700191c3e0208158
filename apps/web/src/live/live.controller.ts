import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { SessionUser } from '../accounts/account.model';
import { CurrentUser, WebRoles } from '../accounts/web-auth.decorators';
import { LiveUpdatesService } from './live-updates.service';

/** Server-sent events: "Task <id> changed" for the person's organization's Tasks, nothing more. */
@WebRoles('case-manager', 'cbo-admin')
@Controller('api/live')
export class LiveController {
  constructor(private readonly live: LiveUpdatesService) {}

  @Get()
  stream(@CurrentUser() user: SessionUser, @Res() response: Response): void {
    response.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    response.write('retry: 2000\n\n');
    const unsubscribe = this.live.subscribe(user.organizationId, (change) => {
      response.write(`event: task\ndata: ${JSON.stringify({ id: change.id })}\n\n`);
    });
    const heartbeat = setInterval(() => response.write(': ping\n\n'), 20_000);
    response.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
  }
}
