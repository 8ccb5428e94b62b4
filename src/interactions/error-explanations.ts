/**
 * What an error page tells a person (FLOW-6): what went wrong, in plain words, and what they can
 * do about it. Pure: from the engine's route and error to three sentences. The engine's own
 * description, meant for the application's developers, is shown only as a detail below.
 */

export interface Explanation {
  readonly title: string;
  /** What went wrong. */
  readonly message: string;
  /** What the person can do now. */
  readonly advice: string;
}

export interface EngineError {
  readonly error: string;
  readonly description?: string | undefined;
  readonly status: number;
  /** Whether the browser has a Gatehouse session (the page then carries a Sign out control). */
  readonly signedIn?: boolean;
}

const TELL_OPERATORS = 'If this keeps happening, tell the people who run that application.';
const signOutAdvice = (signedIn: boolean | undefined) =>
  signedIn
    ? 'You are still signed in to Gatehouse: use Sign out at the top of this page, then return to the application yourself.'
    : 'You are not signed in to Gatehouse, so there is nothing to sign out of here; return to the application yourself.';

function explainLogout({ error, description, signedIn }: EngineError): Explanation | undefined {
  const title = 'Sign-out could not start';
  if (description === 'post_logout_redirect_uri not registered') {
    return {
      title,
      message: 'The application asked Gatehouse to send you back to an address it has not registered, so Gatehouse did not sign you out or send you there.',
      advice: `${signOutAdvice(signedIn)} ${TELL_OPERATORS}`,
    };
  }
  if (description?.includes('id_token_hint') || (error === 'invalid_client' && description !== 'client is invalid')) {
    return {
      title,
      message: 'The sign-out link carried a proof of your sign-in that Gatehouse did not issue or cannot check (it may be damaged or forged), so Gatehouse cannot tell which application sent you.',
      advice: `${signOutAdvice(signedIn)} ${TELL_OPERATORS}`,
    };
  }
  if (error === 'invalid_client') {
    return {
      title,
      message: 'The sign-out link names an application that is not registered with Gatehouse.',
      advice: `${signOutAdvice(signedIn)} Check that you followed the link from the application you meant to use.`,
    };
  }
  return undefined;
}

function explainSignIn({ error }: EngineError): Explanation | undefined {
  const title = 'Sign-in could not start';
  switch (error) {
    case 'invalid_redirect_uri':
      return {
        title,
        message: 'The application sent you here with a return address it has not registered, so Gatehouse did not send you back to it.',
        advice: `Go back to the application and try again. ${TELL_OPERATORS}`,
      };
    case 'invalid_client':
      return {
        title,
        message: 'The application that sent you here is not registered with Gatehouse.',
        advice: 'Check that you followed the sign-in link from the application you meant to use. Its operators may need to register it.',
      };
    case 'session_not_found':
      return {
        title: 'Sign-in expired',
        message: 'Your sign-in took too long or was started in another browser.',
        advice: 'Go back to the application and start again.',
      };
    default:
      return undefined;
  }
}

/** The page for an error the engine renders itself (it cannot redirect back to the application). */
export function explainEngineError(route: string | undefined, error: EngineError): Explanation {
  if (error.status >= 500) {
    return {
      title: 'Something went wrong',
      message: 'Something went wrong on our side; nothing you did caused it.',
      advice: 'Please try again in a moment.',
    };
  }
  const specific = route === 'end_session' || route === 'end_session_confirm' ? explainLogout(error) : explainSignIn(error);
  if (specific) return specific;
  return {
    title: 'This request cannot be completed',
    message: 'The application sent Gatehouse a request it cannot carry out, so nothing was done.',
    advice: `Go back to the application and try again. ${TELL_OPERATORS}`,
  };
}
